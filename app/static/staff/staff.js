// The staff dashboard: models, catalog, online metrics, experiment, training runs, all
// through the public GraphQL API. Nothing staff-only is asked for until `me { isStaff }`
// says so (and the API refuses every staff field to anyone else with FORBIDDEN anyway).
// Each section asks for its own fields: one this server's schema lacks (a feature not
// deployed here) gives a GraphQL validation error, shown as "not available", and the other
// sections work on.

import { ApiError, gql, setToken, token } from "/static/common/api.js";
import { lineChart, PALETTE } from "/static/common/charts.js";
import { el, formatDate, formatNumber, notice, put, toast } from "/static/common/ui.js";

const main = document.getElementById("main");
let categories = [];

function section(id, title, intro) {
  const body = el("div", { class: "section-body" }, el("p", { class: "muted" }, "Loading…"));
  const node = el("section", { id, class: "panel", "aria-labelledby": `${id}-title` },
    el("h2", { id: `${id}-title` }, title), intro ? el("p", { class: "muted small" }, intro) : null, body);
  return { node, body };
}

function failure(body, error, what) {
  if (error instanceof ApiError && error.isMissingFromSchema) {
    put(body, notice("info", `${what} not available on this server yet (its API is not in this server's schema).`));
  } else {
    put(body, notice("error", error instanceof ApiError ? error.message : String(error)));
    if (!(error instanceof ApiError)) console.error(error);
  }
}

function table(headers, rows, { numeric = [] } = {}) {
  return el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", { class: row.className || null, dataset: row.dataset || {} },
      row.cells.map((cell, i) => el("td", { class: numeric.includes(i) ? "num" : null }, cell)))))));
}

// ---------------------------------------------------------------- models

const MODELS = `{ modelVersions { version isCurrent createdAt arch
  metrics { name model popularity } lossCurve { epoch loss validationLoss } } }`;

async function models(body) {
  let versions;
  try {
    versions = (await gql(MODELS)).modelVersions;
  } catch (error) {
    return failure(body, error, "Model versions are");
  }
  if (!versions.length) return put(body, notice("info", "No model has been trained yet: run `bookrec train`."));
  const names = [...new Set(versions.flatMap((v) => v.metrics.map((m) => m.name)))];
  const current = versions.find((v) => v.isCurrent);
  const rows = versions.map((v) => ({
    className: v.isCurrent ? "current-row" : null,
    dataset: { version: v.version },
    cells: [
      v.isCurrent ? el("span", { class: "current" }, `${v.version} (current)`) : v.version,
      v.arch || "–",
      formatDate(v.createdAt),
      ...names.map((name) => {
        const m = v.metrics.find((x) => x.name === name);
        if (!m) return "–";
        return el("span", {}, formatNumber(m.model), el("span", { class: "muted small" }, ` / ${formatNumber(m.popularity)}`));
      }),
    ],
  }));
  const rollback = el("button", { type: "button", class: "danger", disabled: versions.length < 2 || !current }, "Roll back to the previous version");
  rollback.addEventListener("click", async () => {
    if (!confirm(`Make the version before ${current.version} current again?`)) return;
    rollback.disabled = true;
    try {
      const data = await gql(`mutation { rollbackModel { version } }`);
      toast("ok", `Rolled back: ${data.rollbackModel.version} is now current. Servers switch within seconds.`);
      await models(body);
    } catch (error) {
      toast("error", error.message);
      rollback.disabled = false;
    }
  });
  const charts = el("div", { class: "charts" }, versions.slice(0, 6).map((v) => {
    const series = [
      { name: "training loss", color: PALETTE[0], points: v.lossCurve.map((p) => [p.epoch, p.loss]) },
      { name: "validation loss", color: PALETTE[1], dashed: true, points: v.lossCurve.filter((p) => p.validationLoss != null).map((p) => [p.epoch, p.validationLoss]) },
    ];
    return el("figure", { class: "chart", "data-loss-curve": v.version },
      el("h3", {}, `${v.version}${v.isCurrent ? " (current)" : ""}: loss`),
      lineChart(series, { title: `Loss curve of ${v.version}`, xLabel: "epoch", yFormat: (y) => y.toFixed(2), yMin: 0 }),
      el("div", { class: "legend" }, el("span", {}, el("i", { class: "l0" }), "training"), el("span", {}, el("i", { class: "l1" }), "validation")));
  }));
  put(body, 
    el("p", { class: "small muted" }, "Held-out metrics of each version, then ", el("strong", {}, "/ the popularity baseline"), " on the same split."),
    table(["version", "architecture", "created", ...names], rows, { numeric: names.map((_, i) => i + 3) }),
    el("div", { class: "row" }, rollback),
    el("h3", {}, "Loss curves"),
    charts,
  );
}

// ---------------------------------------------------------------- catalog

const BOOK_FIELDS = `id title authors year isbn description coverUrl hidden categories { id name }`;

async function catalog(body) {
  try {
    categories = (await gql(`{ categories { id name } }`)).categories;
    await gql(`{ books(first: 1, includeHidden: true) { edges { node { id hidden } } } }`);
  } catch (error) {
    return failure(body, error, "Catalog management is");
  }
  const list = el("div");
  const search = el("input", { id: "staff-search", type: "search", placeholder: "Title or author", maxlength: 200 });
  const formBox = el("div");
  const load = async () => {
    try {
      const data = await gql(`query Staff($search: String) { books(first: 12, search: $search, includeHidden: true) {
        totalCount edges { node { ${BOOK_FIELDS} } } } }`, { search: search.value.trim() || null });
      renderBooks(list, data.books, load, formBox);
    } catch (error) {
      failure(list, error, "The catalog is");
    }
  };
  const searchForm = el("form", { class: "row", role: "search" },
    el("label", { for: "staff-search" }, "Find a book"), search, el("button", { type: "submit", class: "secondary" }, "Search"),
    el("button", { type: "button", onclick: () => bookForm(formBox, null, load) }, "Add a book"),
    el("button", { type: "button", class: "secondary", onclick: () => categoryForm(formBox) }, "Add a category"));
  searchForm.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  put(body, searchForm, formBox, list);
  await load();
}

function renderBooks(list, page, reload, formBox) {
  const rows = page.edges.map(({ node: b }) => ({
    className: b.hidden ? "hidden-row" : null,
    dataset: { bookId: b.id },
    cells: [
      b.id,
      el("span", {}, b.title, b.hidden ? el("span", { class: "badge pill-hidden" }, " hidden") : null),
      b.authors || "–",
      b.categories.map((c) => c.name).join(", ") || "–",
      el("div", { class: "row" },
        el("button", { type: "button", class: "secondary", onclick: () => bookForm(formBox, b, reload) }, "Edit"),
        el("button", { type: "button", class: "secondary", "aria-label": `${b.hidden ? "Unhide" : "Hide"} ${b.title}`,
          onclick: async () => {
            try {
              await gql(`mutation Hide($id: ID!, $hidden: Boolean!) { setBookHidden(id: $id, hidden: $hidden) { id hidden } }`, { id: b.id, hidden: !b.hidden });
              toast("ok", `${b.title} is ${b.hidden ? "visible to readers again" : "hidden from readers"}.`);
              await reload();
            } catch (error) { toast("error", error.message); }
          } }, b.hidden ? "Unhide" : "Hide")),
    ],
  }));
  put(list, el("p", { class: "muted small" }, `${page.totalCount} book${page.totalCount === 1 ? "" : "s"} (hidden ones included)${page.totalCount > 12 ? "; the first 12 shown: search to find the others" : ""}.`),
    table(["id", "title", "authors", "categories", ""], rows));
}

function input(label, name, value, attrs = {}) {
  const id = `book-${name}`;
  const control = attrs.multiline
    ? el("textarea", { id, name, rows: 3 }, value ?? "")
    : el("input", { id, name, value: value ?? "", ...attrs });
  return el("div", { class: `field${attrs.multiline ? " wide" : ""}` }, el("label", { for: id }, label), control);
}

function bookForm(box, book, reload) {
  const chosen = new Set((book?.categories || []).map((c) => c.id));
  const message = el("div");
  const form = el("form", { class: "panel", "aria-label": book ? `Edit ${book.title}` : "Add a book", novalidate: true },
    el("h3", {}, book ? `Edit “${book.title}”` : "Add a book"),
    el("div", { class: "form-grid" },
      input("Title", "title", book?.title, { required: true }),
      input("Authors", "authors", book?.authors, { required: true }),
      input("Year", "year", book?.year, { inputmode: "numeric" }),
      input("ISBN", "isbn", book?.isbn),
      input("Cover URL", "coverUrl", book?.coverUrl, { type: "url" }),
      input("Description", "description", book?.description, { multiline: true })),
    el("fieldset", { class: "field" }, el("legend", {}, "Categories"),
      el("div", { class: "chips" }, categories.map((c) =>
        el("label", { class: "chip" }, el("input", { type: "checkbox", name: "categoryIds", value: c.id, checked: chosen.has(c.id) }), c.name)))),
    message,
    el("div", { class: "row" }, el("button", { type: "submit" }, book ? "Save" : "Add the book"),
      el("button", { type: "button", class: "secondary", onclick: () => put(box) }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const text = (name) => (data.get(name) || "").toString().trim() || null;
    const year = text("year");
    const bookInput = {
      title: text("title") || "", authors: text("authors") || "",
      year: year === null ? null : Number(year), isbn: text("isbn"), description: text("description"),
      coverUrl: text("coverUrl"), categoryIds: data.getAll("categoryIds"),
    };
    if (year !== null && !Number.isInteger(bookInput.year)) {
      put(message, notice("error", "The year must be a whole number."));
      return;
    }
    try {
      if (book) {
        await gql(`mutation Update($id: ID!, $input: BookInput!) { updateBook(id: $id, input: $input) { id } }`, { id: book.id, input: bookInput });
        // setBookCategories is the one call that sets exactly these categories
        await gql(`mutation Cats($id: ID!, $ids: [ID!]!) { setBookCategories(id: $id, categoryIds: $ids) { id } }`, { id: book.id, ids: bookInput.categoryIds });
        toast("ok", `Saved “${bookInput.title}”.`);
      } else {
        const added = await gql(`mutation Add($input: BookInput!) { addBook(input: $input) { id title } }`, { input: bookInput });
        toast("ok", `Added “${added.addBook.title}” (id ${added.addBook.id}).`);
      }
      put(box);
      await reload();
    } catch (error) {
      put(message, notice("error", error.message));
    }
  });
  put(box, form);
  form.querySelector("input").focus();
}

function categoryForm(box) {
  const message = el("div");
  const form = el("form", { class: "panel", "aria-label": "Add a category" },
    el("h3", {}, "Add a category"),
    el("div", { class: "field" }, el("label", { for: "category-name" }, "Name"), el("input", { id: "category-name", name: "name", required: true, maxlength: 100 })),
    message,
    el("div", { class: "row" }, el("button", { type: "submit" }, "Add"), el("button", { type: "button", class: "secondary", onclick: () => put(box) }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const data = await gql(`mutation AddCategory($name: String!) { addCategory(name: $name) { id name } }`, { name: new FormData(form).get("name") });
      categories.push(data.addCategory);
      toast("ok", `Added the category ${data.addCategory.name}.`);
      put(box);
    } catch (error) {
      put(message, notice("error", error.message));
    }
  });
  put(box, form);
}

// ---------------------------------------------------------------- online metrics

const GROUP_FIELDS = `modelVersion variant source lists impressions opens openRate rateAfterShown
  likeAfterShown dislikeAfterShown catalogCoverage meanOpenedPosition`;

async function online(body) {
  const since = new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString();
  let metrics;
  try {
    metrics = (await gql(`query Online($since: DateTime) { onlineMetrics(since: $since, bucketMinutes: 60) {
      groups { ${GROUP_FIELDS} } series { start variant lists impressions opens openRate } } }`, { since })).onlineMetrics;
  } catch (error) {
    return failure(body, error, "Online metrics are");
  }
  const pct = (x) => (x == null ? "–" : `${(100 * x).toFixed(1)}%`);
  const rows = metrics.groups.map((g) => ({
    cells: [g.modelVersion, g.variant, g.source || "all", g.lists, g.impressions, g.opens, pct(g.openRate),
      pct(g.rateAfterShown), pct(g.likeAfterShown), pct(g.dislikeAfterShown), pct(g.catalogCoverage), formatNumber(g.meanOpenedPosition, 1)],
  }));
  const variants = [...new Set(metrics.series.map((p) => p.variant))];
  const series = variants.map((variant, i) => ({
    name: variant, color: PALETTE[i % PALETTE.length],
    points: metrics.series.filter((p) => p.variant === variant).map((p) => [Date.parse(p.start), p.openRate]),
  }));
  const hour = (x) => new Date(x).toISOString().slice(5, 13).replace("T", " ") + "h";
  put(body, 
    el("p", { class: "muted small" }, "The last 7 days, by model version, variant and source."),
    metrics.groups.length ? table(["model", "variant", "source", "lists", "shown", "opened", "open rate", "rated", "liked", "disliked", "coverage", "mean position"], rows, { numeric: [3, 4, 5, 6, 7, 8, 9, 10, 11] })
      : notice("info", "No list has been shown in this period."),
    el("div", { class: "charts" }, el("figure", { class: "chart" }, el("h3", {}, "Open rate per hour"),
      lineChart(series, { title: "Open rate per hour by variant", xFormat: hour, yFormat: (y) => `${(100 * y).toFixed(0)}%`, yMin: 0, yMax: 0.1 }),
      el("div", { class: "legend" }, series.map((s, i) => el("span", {}, el("i", { class: `l${i % 6}` }), s.name))))),
  );
}

async function experiment(body) {
  let found;
  try {
    found = (await gql(`{ experiment { id version controlVersion share startedAt
      control { ${GROUP_FIELDS} } variant { ${GROUP_FIELDS} } openRateDifference differenceLow differenceHigh } }`)).experiment;
  } catch (error) {
    return failure(body, error, "Experiments are");
  }
  if (!found) return put(body, notice("info", "No experiment is running."));
  const pct = (x) => (x == null ? "–" : `${(100 * x).toFixed(2)}%`);
  const row = (name, g) => ({ cells: [name, g?.modelVersion || "–", g?.lists ?? 0, g?.impressions ?? 0, g?.opens ?? 0, pct(g?.openRate)] });
  put(body, 
    el("p", {}, `Experiment ${found.id}: ${found.version} against ${found.controlVersion || "the current model"}, `,
      `${(100 * found.share).toFixed(0)}% of readers, since ${formatDate(found.startedAt)}.`),
    table(["group", "model", "lists", "shown", "opened", "open rate"], [row("control", found.control), row("variant", found.variant)], { numeric: [2, 3, 4, 5] }),
    el("p", {}, "Open-rate difference (variant − control): ", el("strong", {}, pct(found.openRateDifference)),
      found.differenceLow != null ? ` (95% interval ${pct(found.differenceLow)} to ${pct(found.differenceHigh)})` : ""),
  );
}

async function training(body) {
  let runs;
  try {
    runs = (await gql(`{ trainingRuns(first: 20) { id trigger status startedAt finishedAt durationSeconds version gateDecision error } }`)).trainingRuns;
  } catch (error) {
    return failure(body, error, "Training runs are");
  }
  if (!runs.length) return put(body, notice("info", "No training run recorded yet."));
  const timed = runs.filter((r) => r.durationSeconds != null);
  put(body, 
    table(["run", "trigger", "status", "started", "duration", "version", "gate", "error"], runs.map((r) => ({
      cells: [r.id, r.trigger, r.status, formatDate(r.startedAt), r.durationSeconds == null ? "–" : `${r.durationSeconds.toFixed(1)} s`,
        r.version || "–", r.gateDecision || "–", r.error || ""],
    })), { numeric: [4] }),
    timed.length > 1 ? el("div", { class: "charts" }, el("figure", { class: "chart" }, el("h3", {}, "Duration of the runs"),
      lineChart([{ name: "duration", points: timed.map((r) => [Date.parse(r.startedAt), r.durationSeconds]) }],
        { title: "Training run durations", xFormat: (x) => new Date(x).toISOString().slice(5, 16).replace("T", " "), yFormat: (y) => `${y.toFixed(0)} s`, yMin: 0 }))) : null,
  );
}

// ---------------------------------------------------------------- start

async function start() {
  const account = document.getElementById("account");
  let me = null;
  if (token()) {
    try {
      me = (await gql(`{ me { username isStaff } }`)).me;
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "UNAUTHENTICATED")) {
        put(main, notice("error", error.message));
        return;
      }
    }
  }
  if (!me) {
    put(main, el("section", { class: "panel narrow" }, el("h1", {}, "Staff dashboard"),
      notice("info", "Staff only. Sign in with a staff account first."), el("a", { href: "/#/signin", class: "button" }, "Sign in")));
    return;
  }
  put(account, el("span", {}, "Signed in as ", el("strong", {}, me.username)),
    el("button", { type: "button", class: "secondary", onclick: () => { setToken(null); location.href = "/"; } }, "Sign out"));
  if (!me.isStaff) {
    put(main, el("section", { class: "panel narrow", id: "staff-only" }, el("h1", {}, "Staff only"),
      notice("error", "This dashboard is for staff accounts. Yours is a reader account: ask an administrator to run `bookrec user grant-staff " + me.username + "` if you need it."),
      el("a", { href: "/", class: "button secondary" }, "Back to the books")));
    return;
  }
  document.getElementById("staff-nav").hidden = false;
  const parts = [
    ["models", "Model versions", "Which version serves, how each did on held-out ratings against popularity, and how its training went.", models],
    ["catalog", "Catalog", "Add, edit, hide and categorise books. Hidden books are never listed or recommended to readers; their ratings are kept.", catalog],
    ["online", "Online metrics", "What readers did with the lists they were shown.", online],
    ["experiment", "Experiment", null, experiment],
    ["training", "Training runs", "The latest runs of `bookrec train` and the worker.", training],
  ];
  const built = parts.map(([id, title, intro, fill]) => ({ ...section(id, title, intro), fill }));
  put(main, el("h1", {}, "Staff dashboard"), el("div", { class: "sections" }, built.map((b) => b.node)));
  await Promise.all(built.map((b) => b.fill(b.body)));
  main.dataset.ready = "staff";
}

start();
