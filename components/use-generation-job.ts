"use client";

// Following one generation job in the browser: post the request, then its Server-Sent Events (status, progress with
// partial pictures, done or failed), then the finished job. Shared by the Create form and the detail page's
// transformer tools (completions and variations of a gallery image), so both stream alike.
import { useEffect, useRef, useState } from "react";

export type JobPhase =
  | { kind: "idle" }
  /** done/total: tokens written (this server's worker); running/fraction: a job another server generates. */
  | { kind: "waiting"; id: string; done: number; total: number; partial: string[]; running?: boolean; fraction?: number }
  | {
      kind: "done";
      id: string;
      images: { id: string; url: string }[];
      seed: number;
      timings?: Record<string, number>;
      streamed: number;
      /** Candidates CLIP ranked (null: reranking was off). */
      candidates: number | null;
    }
  | { kind: "error"; message: string };

export async function errorMessage(res: Response): Promise<string> {
  try {
    const body = await res.json();
    return body?.error?.message ?? `request failed (${res.status})`;
  } catch {
    return `request failed (${res.status})`;
  }
}

/** The job's phase, and `follow(post)`: sends the request `post` makes (a POST /api/generations) and follows the job. */
export function useGenerationJob() {
  const [phase, setPhase] = useState<JobPhase>({ kind: "idle" });
  const source = useRef<EventSource | null>(null);

  useEffect(() => () => source.current?.close(), []);

  async function follow(post: () => Promise<Response>): Promise<void> {
    source.current?.close();
    let res: Response;
    try {
      res = await post();
    } catch {
      return setPhase({ kind: "error", message: "could not reach the server" });
    }
    if (!res.ok) return setPhase({ kind: "error", message: await errorMessage(res) });
    const { id } = (await res.json()) as { id: string };
    setPhase({ kind: "waiting", id, done: 0, total: 0, partial: [] });
    let streamed = 0;
    const es = new EventSource(`/api/generations/${id}/events`);
    source.current = es;
    es.addEventListener("progress", (ev) => {
      const e = JSON.parse((ev as MessageEvent).data) as { done: number; total: number; partial?: string[] };
      streamed = e.done;
      setPhase((p) => (p.kind === "waiting" && p.id === id ? { ...p, done: e.done, total: e.total, partial: e.partial ?? p.partial } : p));
    });
    es.addEventListener("status", (ev) => {
      const e = JSON.parse((ev as MessageEvent).data) as { status: string; progress: number };
      setPhase((p) => (p.kind === "waiting" && p.id === id ? { ...p, running: e.status === "running", fraction: e.progress } : p));
    });
    es.addEventListener("failed", (ev) => {
      es.close();
      setPhase({ kind: "error", message: JSON.parse((ev as MessageEvent).data).error });
    });
    es.addEventListener("done", async () => {
      es.close();
      const job = await fetch(`/api/generations/${id}`);
      if (!job.ok) return setPhase({ kind: "error", message: await errorMessage(job) });
      const body = await job.json();
      setPhase({ kind: "done", id, images: body.images, seed: body.seed, timings: body.timings, streamed, candidates: body.candidates });
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED)
        setPhase((p) => (p.kind === "waiting" ? { kind: "error", message: "lost the connection to the server" } : p));
    };
  }

  return { phase, setPhase, follow };
}
