import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { getJobStatus } from "@/lib/db/generations";
import { isRecordId, shownId } from "@/lib/ids";
import { generationService } from "@/lib/generate/service";
import type { JobEvent } from "@/lib/generate/worker";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** How often the database is read for a job no event of this process's worker has told of lately. */
const POLL_MS = 1000;

/**
 * GET /api/generations/[id]/events: Server-Sent Events — `status` (queued/running and the fraction done),
 * `progress` (tokens done, partial PNGs as data URLs), then `done` or `failed`. A job already finished answers with
 * its final event at once. Progress with pictures comes from this process's worker; a job that another server or
 * `npm run worker` process generates (they share the queue) is followed through the database instead: its status
 * every POLL_MS, and its end.
 */
export const GET = route(async (request: Request, { params }: { params: Promise<{ id: string }> }) => {
  const { id } = await params;
  if (!isRecordId(id)) return jsonError(404, `no generation with id ${shownId(id)}`);
  const { db, worker } = await generationService();
  const job = await getJobStatus(db, id);
  if (!job) return jsonError(404, `no generation with id ${id}`);
  const encoder = new TextEncoder();
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      const send = (e: JobEvent) => {
        if (!closed) controller.enqueue(encoder.encode(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`));
      };
      const finish = () => {
        if (closed) return;
        closed = true;
        cleanup();
        controller.close();
      };
      if (job.status === "done") return (send({ type: "done" }), finish());
      if (job.status === "failed") return (send({ type: "failed", error: job.error ?? "failed" }), finish());
      let lastLocal = 0;
      const onEvent = (e: JobEvent) => {
        lastLocal = Date.now();
        send(e);
        if (e.type === "done" || e.type === "failed") finish();
      };
      // Comments keep proxies from closing an idle stream while the job waits in the queue.
      const heartbeat = setInterval(() => !closed && controller.enqueue(encoder.encode(": waiting\n\n")), 15_000);
      let last = { status: job.status, progress: job.progress };
      // The job may have finished between the first read and the subscription, or run on another server: look
      // again now and every POLL_MS while this process's worker says nothing of it.
      const look = () =>
        getJobStatus(db, id).then(
          (now) => {
            if (closed) return;
            if (!now) return onEvent({ type: "failed", error: "deleted while it was being generated" });
            if (now.status === "done") return onEvent({ type: "done" });
            if (now.status === "failed") return onEvent({ type: "failed", error: now.error ?? "failed" });
            if (now.status === last.status && now.progress === last.progress) return;
            last = { status: now.status, progress: now.progress };
            send({ type: "status", status: now.status, progress: now.progress });
          },
          () => {}, // the database is down: the worker's own events, a later look or the client's retry will tell
        );
      const poll = setInterval(() => Date.now() - lastLocal >= POLL_MS && void look(), POLL_MS);
      worker.events.on(id, onEvent);
      cleanup = () => {
        clearInterval(heartbeat);
        clearInterval(poll);
        worker.events.off(id, onEvent);
      };
      request.signal.addEventListener("abort", finish);
      send({ type: "status", status: job.status, progress: job.progress });
      void look();
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(stream, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" } });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
