// PostGraphile 5 over the benchmark database, for bench/compare.sh.
//
// The amber preset (PostGraphile's recommended baseline) with nothing added or removed:
// the comparison is against PostGraphile as documented, not a tuned build. The database
// URL comes from $DATABASE_URL; the port and host are given on the command line
// (`postgraphile -C graphile.config.mjs -p PORT -n 127.0.0.1`).
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  throw new Error("set DATABASE_URL to the benchmark database (postgres://…/guichet_bench)");
}

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ connectionString, schemas: ["public"] })],
  grafserv: { graphiql: false, watch: false },
  grafast: { explain: false },
};

export default preset;
