// Small DOM helpers shared by the reader app and the staff dashboard. Everything is built
// with createElement and textContent (never innerHTML with data), so a title can hold any
// characters.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// replaceChildren, leaving out the null/false of optional parts (the DOM would print "null").
export function put(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function notice(kind, text) {
  return el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

let toastTimer;
export function toast(kind, text) {
  const box = document.getElementById("toast");
  if (!box) return;
  put(box, notice(kind, text));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => put(box), 6000);
}

function tone(text) {
  let hash = 0;
  for (const ch of text) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 6;
}

// The cover when the book has one and it loads; a coloured card with the title otherwise
// (no coverUrl, or the image host unreachable, as on an offline network).
export function cover(book) {
  const placeholder = () =>
    el("div", { class: `placeholder tone-${tone(book.title)}`, role: "img", "aria-label": `No cover: ${book.title}` },
      el("span", {}, book.title));
  if (!book.coverUrl) return placeholder();
  const img = el("img", { class: "cover", src: book.coverUrl, alt: `Cover of ${book.title}`, loading: "lazy" });
  img.addEventListener("error", () => img.replaceWith(placeholder()), { once: true });
  return img;
}

export function starsText(value) {
  if (value === null || value === undefined) return "";
  const full = Math.floor(value);
  const half = value - full >= 0.5;
  return "★".repeat(full) + (half ? "½" : "");
}

// Five stars, each in two halves: ten buttons for 0.5 to 5 stars (the API's half steps).
export function starRating(current, onRate) {
  const group = el("div", { class: "stars", role: "group", "aria-label": "Your rating" });
  for (let i = 1; i <= 5; i++) {
    const filled = current >= i ? "fill" : current >= i - 0.5 ? "fill half" : "";
    const star = el("span", { class: "star" },
      el("span", { class: "glyph", "aria-hidden": "true" }, "★"),
      filled ? el("span", { class: `glyph ${filled}`, "aria-hidden": "true" }, "★") : null);
    for (const [side, value] of [["left", i - 0.5], ["right", i]]) {
      star.append(el("button", {
        type: "button",
        class: side,
        "aria-label": `Rate ${value} star${value === 1 ? "" : "s"}`,
        "aria-pressed": current === value ? "true" : "false",
        title: `${value} stars`,
        onclick: () => onRate(value),
      }));
    }
    group.append(star);
  }
  return group;
}

export function formatNumber(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toFixed(digits);
}

export function formatDate(value) {
  if (!value) return "–";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}
