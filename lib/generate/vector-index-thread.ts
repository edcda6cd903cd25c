// The vector index's worker thread (started by ./vector-search.ts through generation-thread-boot.mjs, which
// registers tsx): its own database client and IndexKeeper, so building, catching up and searching never hold up
// the web thread. One request at a time is not enforced: searches are answered as their database checks return.
import { parentPort, workerData } from "node:worker_threads";
import { createDb } from "../db/client";
import { IndexKeeper, type KeeperOptions } from "./index-keeper";
import type { FromIndexThread, ToIndexThread } from "./vector-search";

const { databaseUrl, options } = workerData as { databaseUrl: string; options: KeeperOptions };
const db = createDb(databaseUrl);
const keeper = new IndexKeeper(db, options);
const port = parentPort!;
const send = (m: FromIndexThread) => port.postMessage(m);

port.on("message", (m: ToIndexThread) => {
  if (m.type === "stop") {
    keeper.stop();
    void db.$disconnect().finally(() => port.close());
    return;
  }
  const answer =
    m.type === "search"
      ? keeper.search(m.versionId, m.query, m.topK, m.exclude).then((results) => ({ results }))
      : m.type === "like"
        ? keeper.moreLikeThis(m.generationId, m.topK).then((results) => ({ results }))
        : m.type === "state"
          ? keeper.ready.then(
              () => ({ state: keeper.state() }),
              () => ({ state: keeper.state() }),
            )
          : keeper.catchUp().then(() => ({}));
  answer.then(
    (r) => send({ type: "answer", req: m.req, ...r }),
    (err: unknown) => send({ type: "answer", req: m.req, error: err instanceof Error ? err.message : String(err) }),
  );
});
