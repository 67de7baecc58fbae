// Starts GraphiQL on /graphql. Everything it loads comes from this server (no CDN, no inline
// script), so the page works offline and under the Content-Security-Policy the server sends.
// The default query and headers come from the JSON block the server writes into the page.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var url = window.location.href.split("?")[0].split("#")[0];
  var ws = new URL(url);
  ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
  ws.hash = "";

  var fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: ws.toString() });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: config.query,
      defaultHeaders: config.headers,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
