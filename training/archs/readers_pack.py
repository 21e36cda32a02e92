"""Serve `readers` models that are not one plain `ImplicitJointModel` as one that is.

Two cases, both exact:
- a ranking reader vector r (`rank_vector`): the served reader vector is [x, r] (2d), the
  books [v, 0], the projection [[K, 0], [I, 0]]: stars x.v, ranking score (xK + r).v; the
  L2 on [p, r] and on xK + r are the member's own, so the packed model's loss IS the
  member's (tests/training/test_readers_pack.py);
- an ensemble of k members (seeds): their served vectors side by side, each scaled by
  1/sqrt(k), the projections block-diagonal, the biases averaged: stars and ranking scores
  are the members' means. The packed loss (the one fold-in minimises) is then that of the
  mean prediction, with the members' mean L2.

Everything downstream of training (ONNX export, fold-in kind `readers`, the arrays, warm
start from a published version) sees a plain model of dim k * (2 if rank_vector else 1) * d;
`unpack` takes a packed model's weights back apart into the members' for a warm start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.archs.readers_model import ImplicitJointModel


@dataclass(frozen=True)
class MemberWeights:
    """One member's arrays under the model's weight names (what `warm_start` reads)."""

    user_factors: np.ndarray  # p (without the implicit part)
    user_bias: np.ndarray
    book_factors: np.ndarray
    implicit_factors: np.ndarray
    book_bias: np.ndarray
    rank_bias: np.ndarray
    kernel: np.ndarray
    rank_users: np.ndarray


def width(dim: int, rank_vector: bool) -> int:
    """Served columns of one member."""
    return 2 * dim if rank_vector else dim


def needs_packing(members: list[ImplicitJointModel]) -> bool:
    return len(members) > 1 or members[0].rank_vector


def empty_like(members: list[ImplicitJointModel]) -> ImplicitJointModel:
    """The plain model `assign` fills for these members."""
    m = members[0]
    return ImplicitJointModel(
        m.n_users,
        m.n_books,
        dim=len(members) * width(m.dim, m.rank_vector),
        l2=m.l2,
        l2_y=m.l2_y,
        rank_weight=m.rank_weight,
        rank_l2=m.rank_l2,
        global_mean=m.global_mean,
        implicit=m.implicit,
    )


def assign(packed: ImplicitJointModel, members: list[ImplicitJointModel]) -> None:
    """packed <- the members (see the module docstring); their served vectors included."""
    d = members[0].dim
    w, s = width(d, members[0].rank_vector), 1.0 / np.sqrt(len(members))
    shape_u, shape_b = (packed.n_users, packed.dim), (packed.n_books, packed.dim)
    p, x = np.zeros(shape_u, np.float32), np.zeros(shape_u, np.float32)
    v, y = np.zeros(shape_b, np.float32), np.zeros(shape_b, np.float32)
    kernel = np.zeros((packed.dim, packed.dim), np.float32)
    for j, m in enumerate(members):
        lo = j * w
        p[:, lo : lo + d] = s * np.asarray(m.user_factors)
        x[:, lo : lo + d] = s * np.asarray(m.served_users)
        v[:, lo : lo + d] = s * np.asarray(m.book_factors)
        y[:, lo : lo + d] = s * np.asarray(m.implicit_factors)
        kernel[lo : lo + d, lo : lo + d] = np.asarray(m.kernel)
        if m.rank_vector:
            p[:, lo + d : lo + w] = s * np.asarray(m.rank_users)
            x[:, lo + d : lo + w] = s * np.asarray(m.rank_users)
            kernel[lo + d : lo + w, lo : lo + d] = np.eye(d, dtype=np.float32)
    packed.user_factors.assign(p)
    packed.served_users.assign(x)
    packed.book_factors.assign(v)
    packed.implicit_factors.assign(y)
    packed.kernel.assign(kernel)
    for name in ("user_bias", "book_bias", "rank_bias"):
        mean = np.mean([np.asarray(getattr(m, name)) for m in members], axis=0)
        getattr(packed, name).assign(mean.astype(np.float32))


def pack(members: list[ImplicitJointModel]) -> ImplicitJointModel:
    """The one model to serve: a member itself when it needs no packing."""
    if not needs_packing(members):
        return members[0]
    packed = empty_like(members)
    assign(packed, members)
    # for the manifest (what a warm start must match)
    packed.member_dim, packed.members_fit = members[0].dim, len(members)
    packed.member_rank_vector = members[0].rank_vector
    return packed


def unpack(packed: MemberWeights, k: int, dim: int, rank_vector: bool) -> list[MemberWeights]:
    """The members' weights back from packed ones (the biases: their mean, for every
    member). `packed.user_factors`: [p, r] blocks without the implicit part."""
    w, s = width(dim, rank_vector), np.sqrt(k)
    members = []
    for j in range(k):
        lo = j * w
        rank_users = np.zeros((packed.user_factors.shape[0], dim), np.float32)
        if rank_vector:
            rank_users = s * packed.user_factors[:, lo + dim : lo + w]
        members.append(
            MemberWeights(
                user_factors=s * packed.user_factors[:, lo : lo + dim],
                user_bias=packed.user_bias,
                book_factors=s * packed.book_factors[:, lo : lo + dim],
                implicit_factors=s * packed.implicit_factors[:, lo : lo + dim],
                book_bias=packed.book_bias,
                rank_bias=packed.rank_bias,
                kernel=packed.kernel[lo : lo + dim, lo : lo + dim],
                rank_users=rank_users,
            )
        )
    return members


def weights_of(model: ImplicitJointModel) -> MemberWeights:
    """A (packed or plain) model's weights as `unpack` takes them."""
    return MemberWeights(
        user_factors=np.asarray(model.user_factors),
        user_bias=np.asarray(model.user_bias),
        book_factors=np.asarray(model.book_factors),
        implicit_factors=np.asarray(model.implicit_factors),
        book_bias=np.asarray(model.book_bias),
        rank_bias=np.asarray(model.rank_bias),
        kernel=np.asarray(model.kernel),
        rank_users=np.asarray(model.rank_users),
    )
