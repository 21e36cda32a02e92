// GraphiQL with the explorer plugin, fetching /graphql on this origin. The README's tour
// (tour.json, kept equal to the README by tests/web/test_graphiql_page.py) is one tab per
// step, each query a named operation (pick it with the run button's menu).
// Module scripts run after the deferred classic ones, so React and GraphiQL are loaded.

const HELP = `# bookrec's GraphiQL: the README's tour, one tab a step.
# Run with Ctrl-Enter or the run button (a menu when a
# tab holds several operations). After register or login,
# put the token in the Headers pane below:
#   {"Authorization": "Bearer <token>"}
`;

function named(query, name) {
  const trimmed = query.trim();
  if (trimmed.startsWith("{")) return `query ${name} ${trimmed}`;
  const match = /^(query|mutation)\s*(\(|\{)/.exec(trimmed);
  if (match) return `${match[1]} ${name} ${trimmed.slice(match[1].length).trimStart()}`;
  return trimmed;
}

async function tourTabs() {
  const response = await fetch("/static/graphiql/tour.json");
  const tour = await response.json();
  return tour.steps.map((step, i) => ({
    query:
      `${HELP}\n# ${i + 1}. ${step.title}\n\n` +
      step.queries.map((q, j) => named(q, `${step.name}${step.queries.length > 1 ? j + 1 : ""}`)).join("\n\n") +
      "\n",
  }));
}

async function start() {
  let tabs = [];
  try {
    tabs = await tourTabs();
  } catch (error) {
    console.warn("the tour could not be loaded", error);
  }
  const fetcher = GraphiQL.createFetcher({ url: new URL("/graphql", location.href).href });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      plugins: [explorer],
      defaultTabs: tabs.length ? tabs : undefined,
      defaultQuery: tabs.length ? tabs[0].query : HELP,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
}

start();
