// The reader app: plain ES modules over the public GraphQL API (../common/api.js).
// Routes live in the URL's hash: #/ (home), #/books?search=&category=, #/book/ID,
// #/signin, #/signup. Each view is a function that renders into <main>.

import { ApiError, gql, setToken, token } from "/static/common/api.js";
import { cover, el, notice, put, starRating, toast } from "/static/common/ui.js";

const main = document.getElementById("main");
const PAGE = 12;

const SOURCE_WORDS = {
  MODEL: "For you",
  REFRESHED: "For you, updated",
  FOLD_IN: "Your ratings",
  CATEGORY_POPULAR: "Your categories",
  POPULAR: "Popular",
};

const BOOK_FIELDS = `id title authors year coverUrl averageRating ratingsCount`;

let viewer = null; // { id username isStaff categories { id name } } or null

// ---------------------------------------------------------------- shell

async function loadViewer() {
  viewer = null;
  if (!token()) return;
  try {
    const data = await gql(`{ me { id username isStaff categories { id name } } }`);
    viewer = data.me;
  } catch (error) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") setToken(null);
    else throw error;
  }
}

function renderAccount() {
  const box = document.getElementById("account");
  if (viewer) {
    put(box, 
      el("span", {}, "Signed in as ", el("strong", {}, viewer.username)),
      viewer.isStaff ? el("a", { href: "/staff", class: "button secondary" }, "Staff") : null,
      el("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out"),
    );
  } else {
    put(box, 
      el("a", { href: "#/signin", class: "button secondary" }, "Sign in"),
      el("a", { href: "#/signup", class: "button" }, "Sign up"),
    );
  }
}

function signOut() {
  setToken(null);
  viewer = null;
  renderAccount();
  go("#/");
}

function show(...children) {
  put(main, ...children);
}

function showError(error, where = main) {
  const text = error instanceof ApiError ? error.message : "Something went wrong in this page.";
  if (!(error instanceof ApiError)) console.error(error);
  where.append(notice("error", text));
}

function setCurrentNav(name) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// ---------------------------------------------------------------- book cards

// Tells the API that the reader opened a book from a list it showed (outcome attribution
// of the online metrics). Fire and forget: a server without `openBook` (GraphQL validation
// error) or a failure never stands in the reader's way.
function opened(bookId, listId) {
  if (!listId) return;
  gql(`mutation Open($bookId: ID!, $listId: ID!) { openBook(bookId: $bookId, listId: $listId) }`, { bookId, listId })
    .catch(() => {});
}

function bookCard(book, extra = {}) {
  const href = `#/book/${encodeURIComponent(book.id)}`;
  const open = () => opened(book.id, extra.listId);
  return el("article", { class: "card", "data-book-id": book.id, onclick: (event) => { if (event.target.closest("a.title, a.cover-link")) open(); } },
    el("a", { href, class: "cover-link", tabindex: "-1", "aria-hidden": "true" }, cover(book)),
    el("div", { class: "body" },
      extra.source ? el("span", { class: "badge", title: extra.source }, SOURCE_WORDS[extra.source] || extra.source) : null,
      el("a", { href, class: "title" }, book.title),
      book.authors ? el("span", { class: "authors" }, book.authors) : null,
      book.averageRating != null
        ? el("span", { class: "avg" }, el("b", {}, book.averageRating.toFixed(1)), ` ★ · ${book.ratingsCount} rating${book.ratingsCount === 1 ? "" : "s"}`)
        : el("span", { class: "avg" }, "Not rated yet"),
      extra.because ? el("span", { class: "why" }, "Because you rated ", el("a", { href: `#/book/${extra.because.id}` }, extra.because.title)) : null,
      extra.predictedStars != null ? el("span", { class: "why" }, `We think you'd give it ${extra.predictedStars.toFixed(1)} ★`) : null,
    ),
  );
}

function recommendationGrid(picks) {
  return el("div", { class: "grid" }, picks.map((pick) =>
    bookCard(pick.book, { source: pick.source, because: pick.because, predictedStars: pick.predictedStars, listId: pick.listId })));
}

// ---------------------------------------------------------------- home

const RECOMMENDATIONS = `query Recommendations($first: Int!, $after: String, $categoryId: ID, $excludeBookIds: [ID!]) {
  recommendations(first: $first, after: $after, categoryId: $categoryId, excludeBookIds: $excludeBookIds) {
    listId source score predictedStars
    book { ${BOOK_FIELDS} }
    because { id title }
  }
}`;

async function homeView() {
  setCurrentNav("home");
  if (!viewer) return welcomeView();
  const list = el("section", { "aria-labelledby": "for-you" });
  const shelf = el("section", { "aria-labelledby": "shelf-title" });
  show(el("h1", { id: "for-you" }, `Recommended for you, ${viewer.username}`), list, shelf);
  await recommendationList(list, null);
  await shelfSection(shelf);
}

// The books the main list shows: a shelf leaves them out (`excludeBookIds`).
function onScreen() {
  return Array.from(document.querySelectorAll("[data-list=main] .card"), (card) => card.dataset.bookId);
}

// A list with "More": `after: listId` continues the same list, never repeating a book.
async function recommendationList(container, categoryId, exclude = () => []) {
  const grid = el("div", { class: "grid", "data-list": categoryId ? "shelf" : "main" });
  const more = el("button", { type: "button", class: "secondary" }, "More");
  const status = el("p", { class: "muted small", "aria-live": "polite" });
  container.append(grid, el("div", { class: "row" }, more, status));
  let listId = null;
  const load = async () => {
    more.disabled = true;
    try {
      const excludeBookIds = listId ? null : exclude().slice(0, 500);
      const data = await gql(RECOMMENDATIONS, { first: PAGE, after: listId, categoryId, excludeBookIds });
      const picks = data.recommendations;
      if (picks.length) listId = picks[0].listId;
      grid.append(...Array.from(recommendationGrid(picks).children));
      if (!grid.children.length) status.textContent = "Nothing to recommend yet: rate a few books from the catalog.";
      else if (picks.length < PAGE) { status.textContent = "That is every book we can suggest here."; return; }
      more.disabled = false;
    } catch (error) {
      showError(error, container);
    }
  };
  more.addEventListener("click", load);
  await load();
}

async function shelfSection(section) {
  let categories;
  try {
    categories = (await gql(`{ categories { id name bookCount } }`)).categories.filter((c) => c.bookCount > 0);
  } catch (error) {
    return showError(error, section);
  }
  if (!categories.length) return;
  const mine = new Set((viewer.categories || []).map((c) => c.id));
  categories.sort((a, b) => (mine.has(b.id) - mine.has(a.id)) || a.name.localeCompare(b.name));
  const tabs = el("div", { class: "shelf-tabs", role: "group", "aria-label": "Choose a shelf" });
  const body = el("div");
  section.append(el("h2", { id: "shelf-title" }, "Shelves"), tabs, body);
  const open = async (category) => {
    for (const button of tabs.children) button.setAttribute("aria-pressed", String(button.dataset.id === category.id));
    put(body, el("p", { class: "muted small" }, `The best of ${category.name} for you, besides the books above`));
    await recommendationList(body, category.id, onScreen);
  };
  for (const category of categories.slice(0, 12)) {
    tabs.append(el("button", { type: "button", "aria-pressed": "false", dataset: { id: category.id }, onclick: () => open(category) },
      category.name));
  }
  await open(categories[0]);
}

async function welcomeView() {
  const grid = el("div", { class: "grid" });
  show(
    el("section", { class: "panel" },
      el("h1", {}, "Find your next book"),
      el("p", {}, "Pick the categories you like, rate a few books you have read, and bookrec suggests what to read next, with the book of yours each suggestion is like."),
      el("div", { class: "row" },
        el("a", { href: "#/signup", class: "button" }, "Create an account"),
        el("a", { href: "#/signin", class: "button secondary" }, "Sign in"))),
    el("h2", {}, "From the catalog"),
    grid,
  );
  try {
    const data = await gql(`query Popular($first: Int!) { books(first: $first) { edges { node { ${BOOK_FIELDS} } } } }`, { first: PAGE });
    grid.append(...data.books.edges.map((e) => bookCard(e.node)));
  } catch (error) {
    showError(error);
  }
}

// ---------------------------------------------------------------- catalog

async function catalogView(params) {
  setCurrentNav("books");
  const search = params.get("search") || "";
  const categoryId = params.get("category") || null;
  document.getElementById("search-input").value = search;
  const grid = el("div", { class: "grid" });
  const more = el("button", { type: "button", class: "secondary" }, "Load more");
  const count = el("p", { class: "muted", "aria-live": "polite" });
  const select = el("select", { id: "category-filter", name: "category" }, el("option", { value: "" }, "All categories"));
  show(
    el("h1", {}, search ? `Search: “${search}”` : "Catalog"),
    el("div", { class: "row" }, el("label", { for: "category-filter" }, "Category"), select, count),
    grid,
    el("div", { class: "row" }, more),
  );
  select.addEventListener("change", () => {
    const next = new URLSearchParams();
    if (search) next.set("search", search);
    if (select.value) next.set("category", select.value);
    location.hash = `#/books?${next}`;
  });
  gql(`{ categories { id name } }`).then((data) => {
    for (const c of data.categories) select.append(el("option", { value: c.id, selected: c.id === categoryId }, c.name));
  }).catch(() => {});
  let after = null;
  const load = async () => {
    more.disabled = true;
    try {
      const data = await gql(
        `query Catalog($first: Int!, $after: String, $search: String, $categoryId: ID) {
          books(first: $first, after: $after, search: $search, categoryId: $categoryId) {
            totalCount pageInfo { hasNextPage endCursor } edges { node { ${BOOK_FIELDS} } } } }`,
        { first: 24, after, search: search || null, categoryId });
      const page = data.books;
      grid.append(...page.edges.map((e) => bookCard(e.node)));
      count.textContent = `${page.totalCount} book${page.totalCount === 1 ? "" : "s"}`;
      after = page.pageInfo.endCursor;
      more.hidden = !page.pageInfo.hasNextPage;
      more.disabled = false;
      if (!page.totalCount) grid.replaceWith(notice("info", "No book matches. Try another word."));
    } catch (error) {
      showError(error);
    }
  };
  more.addEventListener("click", load);
  await load();
}

// ---------------------------------------------------------------- book page

const BOOK = `query Book($id: ID!) {
  book(id: $id) { id title authors year isbn description coverUrl averageRating ratingsCount
    likeCount myRating myFeedback categories { id name } }
}`;

async function bookView(id) {
  setCurrentNav(null);
  let book;
  try {
    book = (await gql(BOOK, { id })).book;
  } catch (error) {
    show(el("h1", {}, "Book"));
    return showError(error);
  }
  if (!book) {
    return show(el("h1", {}, "Book not found"), notice("info", "This book is not in the catalog (any more)."),
      el("a", { href: "#/books" }, "Back to the catalog"));
  }
  const actions = el("div", { class: "book-actions" });
  const similar = el("section", { "aria-labelledby": "similar-title" });
  show(
    el("div", { class: "book-page" },
      el("div", {}, cover(book)),
      el("div", {},
        el("h1", {}, book.title),
        el("p", { class: "meta" }, [book.authors, book.year].filter(Boolean).join(" · ")),
        el("div", { class: "chips" }, book.categories.map((c) =>
          el("a", { class: "chip", href: `#/books?category=${c.id}` }, c.name))),
        el("p", { class: "avg" }, book.averageRating != null
          ? [el("b", {}, book.averageRating.toFixed(2)), ` average from ${book.ratingsCount} rating${book.ratingsCount === 1 ? "" : "s"} · ${book.likeCount} like${book.likeCount === 1 ? "" : "s"}`]
          : "No ratings yet"),
        book.description ? el("p", {}, book.description) : null,
        book.isbn ? el("p", { class: "muted small" }, `ISBN ${book.isbn}`) : null,
        actions)),
    similar,
  );
  renderBookActions(actions, book);
  await similarSection(similar, book.id);
}

function renderBookActions(box, book) {
  if (!viewer) {
    put(box, notice("info", "Sign in to rate this book, like it or hide it from your recommendations."),
      el("a", { href: "#/signin", class: "button" }, "Sign in"));
    return;
  }
  const rerender = (patch) => renderBookActions(box, { ...book, ...patch });
  const rate = async (stars) => {
    try {
      const data = await gql(`mutation Rate($id: ID!, $stars: Float!) { rateBook(bookId: $id, stars: $stars) { stars } }`, { id: book.id, stars });
      toast("ok", `Rated ${data.rateBook.stars} stars. Your recommendations now take it into account.`);
      rerender({ myRating: data.rateBook.stars });
    } catch (error) { toast("error", error.message); }
  };
  const unrate = async () => {
    try {
      await gql(`mutation Unrate($id: ID!) { deleteRating(bookId: $id) }`, { id: book.id });
      rerender({ myRating: null });
    } catch (error) { toast("error", error.message); }
  };
  const feedback = async (kind) => {
    const field = kind === book.myFeedback ? "clearFeedback" : kind === "LIKED" ? "likeBook" : "dislikeBook";
    try {
      const data = await gql(`mutation Feedback($id: ID!) { ${field}(bookId: $id) { myFeedback likeCount } }`, { id: book.id });
      rerender(data[field]);
      if (data[field].myFeedback === "DISLIKED") toast("info", "We will not recommend this book to you again.");
    } catch (error) { toast("error", error.message); }
  };
  put(box, 
    el("h2", {}, "Your rating"),
    el("div", { class: "row" },
      starRating(book.myRating || 0, rate),
      el("span", { class: "muted", "data-my-rating": book.myRating ?? "" }, book.myRating ? `${book.myRating} stars` : "Not rated"),
      book.myRating ? el("button", { type: "button", class: "secondary", onclick: unrate }, "Remove rating") : null),
    el("div", { class: "row", role: "group", "aria-label": "Like or dislike" },
      el("button", { type: "button", class: "secondary", "aria-pressed": String(book.myFeedback === "LIKED"), onclick: () => feedback("LIKED") }, "♥ Like"),
      el("button", { type: "button", class: "secondary", "aria-pressed": String(book.myFeedback === "DISLIKED"), onclick: () => feedback("DISLIKED") }, "Not for me")),
  );
}

async function similarSection(section, id) {
  section.append(el("h2", { id: "similar-title" }, "Similar books"));
  try {
    const data = await gql(`query Similar($id: ID!) { similarBooks(bookId: $id, first: 8) { listId source score book { ${BOOK_FIELDS} } } }`, { id });
    if (!data.similarBooks.length) section.append(el("p", { class: "muted" }, "No similar books yet."));
    else section.append(el("div", { class: "grid", "data-list": "similar" }, data.similarBooks.map((s) => bookCard(s.book, { listId: s.listId }))));
  } catch (error) {
    showError(error, section);
  }
}

// ---------------------------------------------------------------- accounts

function field(label, attrs) {
  const id = `f-${attrs.name}`;
  return el("div", { class: "field" }, el("label", { for: id }, label), el("input", { id, ...attrs }));
}

function signInView() {
  setCurrentNav(null);
  const message = el("div", { "aria-live": "assertive" });
  const form = el("form", { class: "panel narrow", novalidate: true },
    el("h1", {}, "Sign in"),
    field("Username", { name: "username", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    message,
    el("div", { class: "row" }, el("button", { type: "submit" }, "Sign in"), el("a", { href: "#/signup" }, "No account yet? Sign up")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    put(message);
    const values = Object.fromEntries(new FormData(form));
    try {
      const data = await gql(`mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`,
        { u: values.username, p: values.password });
      await signedIn(data.login.token);
    } catch (error) {
      showError(error, message);
    }
  });
  show(form);
  form.querySelector("input").focus();
}

async function signUpView() {
  setCurrentNav(null);
  const message = el("div", { "aria-live": "assertive" });
  const chips = el("div", { class: "chips", id: "category-choices" });
  const form = el("form", { class: "panel narrow", novalidate: true },
    el("h1", {}, "Create your account"),
    field("Username", { name: "username", autocomplete: "username", required: true, maxlength: 40 }),
    field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true, "aria-describedby": "pw-help" }),
    el("p", { id: "pw-help", class: "muted small" }, "At least 8 characters."),
    el("fieldset", { class: "field" }, el("legend", {}, "Categories you like"),
      el("p", { class: "muted small" }, "Your first suggestions come from these; choose any number."), chips),
    message,
    el("div", { class: "row" }, el("button", { type: "submit" }, "Sign up"), el("a", { href: "#/signin" }, "Already have an account?")));
  show(form);
  try {
    const data = await gql(`{ categories { id name bookCount } }`);
    for (const c of data.categories) {
      chips.append(el("label", { class: "chip" }, el("input", { type: "checkbox", name: "category", value: c.id }), c.name));
    }
  } catch (error) {
    showError(error, chips);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    put(message);
    const data = new FormData(form);
    try {
      const result = await gql(
        `mutation Register($u: String!, $p: String!, $c: [ID!]!) { register(username: $u, password: $p, categoryIds: $c) { token } }`,
        { u: data.get("username"), p: data.get("password"), c: data.getAll("category") });
      await signedIn(result.register.token);
    } catch (error) {
      showError(error, message);
    }
  });
  form.querySelector("input").focus();
}

async function signedIn(newToken) {
  setToken(newToken);
  await loadViewer();
  renderAccount();
  go("#/");
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---------------------------------------------------------------- router

async function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  window.scrollTo(0, 0);
  if (path !== "/books") document.getElementById("search-input").value = "";
  try {
    if (path === "/" || path === "") await homeView();
    else if (path === "/books") await catalogView(params);
    else if (path.startsWith("/book/")) await bookView(decodeURIComponent(path.slice(6)));
    else if (path === "/signin") signInView();
    else if (path === "/signup") await signUpView();
    else show(el("h1", {}, "Page not found"), el("a", { href: "#/" }, "Go home"));
  } catch (error) {
    showError(error);
  }
  main.dataset.ready = path;
}

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const search = document.getElementById("search-input").value.trim();
  location.hash = search ? `#/books?search=${encodeURIComponent(search)}` : "#/books";
});
window.addEventListener("hashchange", route);

(async () => {
  try {
    await loadViewer();
  } catch (error) {
    showError(error);
  }
  renderAccount();
  await route();
})();
