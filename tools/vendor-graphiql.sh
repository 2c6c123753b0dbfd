#!/usr/bin/env bash
# Re-downloads the GraphiQL that Guichet serves at GET /graphql (from the npm registry
# only: no CDN) into guichet/server/static/graphiql/, with the licence texts of
# everything the files contain. Run it from anywhere:
#   bash tools/vendor-graphiql.sh                       # the pinned versions below
#   GRAPHIQL_VERSION=3.9.0 REACT_VERSION=18.3.1 bash tools/vendor-graphiql.sh
# GraphiQL must be a 3.x release: they ship a standalone UMD build (graphiql.min.js,
# graphiql.min.css) that takes React and ReactDOM as globals; React 18 is the last React
# with UMD builds. Then update the versions in the folder's README.md, run
# tests/server/test_graphiql.py and commit the folder.
set -euo pipefail

graphiql_version="${GRAPHIQL_VERSION:-3.9.0}"
react_version="${REACT_VERSION:-18.3.1}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target="$repo/guichet/server/static/graphiql"

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

cd "$workdir"
npm init -y >/dev/null
# graphql-ws is an optional peer of @graphiql/toolkit that graphiql's UMD build bundles:
# installed here only so that its licence is collected with the others.
npm install --no-audit --no-fund --ignore-scripts --omit=dev --omit=peer \
    "graphiql@$graphiql_version" "react@$react_version" "react-dom@$react_version" \
    "graphql@16" "graphql-ws@5" >/dev/null

modules="$workdir/node_modules"
for file in "$modules/graphiql/graphiql.min.js" "$modules/graphiql/graphiql.min.css" \
    "$modules/react/umd/react.production.min.js" \
    "$modules/react-dom/umd/react-dom.production.min.js"; do
  [[ -f "$file" ]] || { echo "vendor-graphiql.sh: $file is missing from the package" >&2; exit 1; }
done

mkdir -p "$target"
rm -f "$target"/graphiql.min.js "$target"/graphiql.min.css "$target"/react*.production.min.js \
    "$target"/LICENSE.* "$target"/THIRD-PARTY-LICENSES.txt
cp "$modules/graphiql/graphiql.min.js" "$modules/graphiql/graphiql.min.css" "$target/"
cp "$modules/react/umd/react.production.min.js" "$target/"
cp "$modules/react-dom/umd/react-dom.production.min.js" "$target/"
cp "$modules/graphiql/LICENSE" "$target/LICENSE.graphiql"
cp "$modules/react/LICENSE" "$target/LICENSE.react"
cp "$modules/react-dom/LICENSE" "$target/LICENSE.react-dom"

# The licence of every package in the production trees of what is vendored, in one file:
# graphiql's UMD bundle contains graphql-js, CodeMirror 5, @graphiql/react, graphql-ws and
# their dependencies (React and ReactDOM stay outside it, as globals). Type-only packages
# (@types/*) contain no code and are left out.
node - "$modules" "$target/THIRD-PARTY-LICENSES.txt" <<'JS'
const fs = require("fs");
const path = require("path");
const [modules, out] = process.argv.slice(2);
const MIT = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;
const byName = new Map();
const seen = new Set();
function visit(name, from) {
  let dir = path.join(from, "node_modules", name);
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(from);
    if (parent === from) return;
    from = parent;
    dir = path.join(from, "node_modules", name);
  }
  if (seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  if (!pkg.name.startsWith("@types/")) {
    const entry = byName.get(pkg.name) || { dir, pkg, versions: new Set() };
    entry.versions.add(pkg.version);
    byName.set(pkg.name, entry);
  }
  for (const dep of Object.keys(pkg.dependencies || {})) visit(dep, dir);
  for (const dep of Object.keys(pkg.optionalDependencies || {})) visit(dep, dir);
}
for (const root of ["graphiql", "react", "react-dom", "graphql", "graphql-ws"]) {
  visit(root, path.dirname(modules));
}
const rule = "=".repeat(78);
const parts = [
  "Licences of the packages whose code is in the vendored GraphiQL files, as resolved\n" +
    "from npm by tools/vendor-graphiql.sh (graphiql's publishers built its bundle from\n" +
    "these packages; a bundled version may differ slightly from the one listed).\n",
];
for (const name of [...byName.keys()].sort()) {
  const { dir, pkg, versions } = byName.get(name);
  const licence = typeof pkg.license === "string" ? pkg.license : JSON.stringify(pkg.license);
  const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  let text;
  if (file) {
    text = fs.readFileSync(path.join(dir, file), "utf8").trim() + "\n";
  } else {
    const author = typeof pkg.author === "string" ? pkg.author : pkg.author?.name;
    text =
      `(The package ships no licence file; its package.json declares ${licence}` +
      (author ? `, author ${author}` : "") +
      ".)\n" +
      (licence === "MIT" ? "\n" + MIT : "");
  }
  parts.push(`${rule}\n${name} ${[...versions].join(", ")} (${licence})\n${rule}\n\n${text}`);
}
fs.writeFileSync(out, parts.join("\n"));
JS

echo "vendored graphiql $graphiql_version and react/react-dom $react_version into $target:"
du -sh "$target"
