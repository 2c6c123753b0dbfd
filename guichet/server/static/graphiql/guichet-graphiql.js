// Starts GraphiQL on Guichet's /graphql page. A file of its own, not an inline script,
// so that the page's Content-Security-Policy can allow scripts from 'self' only.
// GraphiQL, React and ReactDOM are the vendored UMD globals loaded before this file.
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# Guichet GraphQL API.",
    "#",
    "# Sign in with the login mutation, then put the token it returns in the Headers",
    '# pane below as {"Authorization": "Bearer <token>"} and run your queries.',
    "# Run: Ctrl-Enter (or the play button). Complete: Ctrl-Space.",
    "",
    "mutation SignIn {",
    '  login(input: {email: "you@example.com", password: "your password"}) {',
    "    token",
    "    errors { code message }",
    "  }",
    "}",
    "",
    "query Me {",
    "  me { name role }",
    "}",
    "",
  ].join("\n");

  // The page is served at the GraphQL endpoint itself: queries go back where it came from.
  var url = window.location.href.split(/[?#]/)[0];
  var subscriptionUrl = new URL(url);
  subscriptionUrl.protocol = subscriptionUrl.protocol === "https:" ? "wss:" : "ws:";

  // The headers typed in the Headers pane are sent with every HTTP request and, for a
  // subscription, as the websocket's connection_init payload (Guichet reads its
  // "Authorization" there too).
  var fetcher = GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: subscriptionUrl.toString(),
  });

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      inputValueDeprecation: true,
    }),
  );
})();
