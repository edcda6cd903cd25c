import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { getJobStatus } from "@/lib/db/generations";
import { isRecordId, shownId } from "@/lib/ids";
import { generationService } from "@/lib/generate/service";
import type { JobEvent } from "@/lib/generate/worker";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * GET /api/generations/[id]/events: Server-Sent Events — `progress` (tokens done, partial PNGs as data URLs),
 * then `done` or `failed`. A job already finished answers with its final event at once.
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
      const onEvent = (e: JobEvent) => {
        send(e);
        if (e.type === "done" || e.type === "failed") finish();
      };
      // Comments keep proxies from closing an idle stream while the job waits in the queue.
      const heartbeat = setInterval(() => !closed && controller.enqueue(encoder.encode(": waiting\n\n")), 15_000);
      worker.events.on(id, onEvent);
      cleanup = () => {
        clearInterval(heartbeat);
        worker.events.off(id, onEvent);
      };
      request.signal.addEventListener("abort", finish);
      send({ type: "status", status: job.status, progress: job.progress });
      // The job may have finished between the first read and the subscription: look once more.
      getJobStatus(db, id).then(
        (now) => {
          if (now?.status === "done") onEvent({ type: "done" });
          else if (now?.status === "failed") onEvent({ type: "failed", error: now.error ?? "failed" });
        },
        () => {}, // the database is down: the worker's own events (or the client's retry) will tell
      );
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(stream, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" } });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
