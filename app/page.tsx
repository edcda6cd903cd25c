import { CreateForm, type ModelOption } from "@/components/create-form";
import { listServableModels } from "@/lib/generate/models";
import { PROMPT_MAX } from "@/lib/generate/params";
import { generationService } from "@/lib/generate/service";
import { getHealth, type Health } from "@/lib/health";

/**
 * Prompts built from the emoji corpus's labels and styles, so a first try lands on something the model has seen;
 * shown for a model whose manifest lists no `extra.examples` of its own.
 */
const EXAMPLES = ["grinning face, noto", "red heart, twemoji", "cat face, openmoji", "thumbs up, fluent"];

/** Every servable model with what the form switches to when it is picked (none when the service cannot start). */
async function modelOptions(): Promise<ModelOption[]> {
  const models = await generationService()
    .then((s) => listServableModels(s.db))
    .catch(() => []);
  return models.map((m) => ({ ...m, examples: m.examples ?? EXAMPLES }));
}

// Rendered per request: the status card reports the live backend, database and model.
export const dynamic = "force-dynamic";

export default async function HomePage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const [health, models, query] = await Promise.all([getHealth(), modelOptions(), searchParams]);
  const remix = query.prompt;
  // `?model=<name or id>` preselects that model; else the active one (listed first).
  const asked = typeof query.model === "string" ? query.model : "";
  const initial = models.find((m) => m.name === asked || m.id === asked) ?? models[0];
  return (
    <div className="space-y-8">
      <section className="space-y-3">
        <h1 className="text-3xl font-bold tracking-tight sm:text-4xl" data-testid="home-title">
          Tessera
        </h1>
        <p className="max-w-2xl text-neutral-700" data-testid="home-intro">
          Type a prompt; a transformer writes a grid of image tokens one by one; a learned image tokenizer turns them into pixels; the
          picture lands in a gallery. Small enough to read, train and run on a laptop.
        </p>
      </section>
      {initial && (
        <CreateForm models={models} initialModel={initial.id} initialPrompt={typeof remix === "string" ? remix.slice(0, PROMPT_MAX) : ""} />
      )}
      <StatusCard health={health} />
      {!initial && (
        <p className="rounded-md border border-amber-300 bg-amber-50 p-4 text-sm text-amber-900" data-testid="no-model">
          No model is active yet, so there is nothing to generate with. Train one with the scripts in{" "}
          <code className="font-mono">training/</code> and activate it; the prompt box appears here once a model is loaded.
        </p>
      )}
    </div>
  );
}

function StatusCard({ health }: { health: Health }) {
  const rows: [string, string, string][] = [
    [
      "status-backend",
      "Tensor backend",
      health.backend.name !== null ? `${health.backend.name} — ${health.backend.detail}` : `unavailable: ${health.backend.error}`,
    ],
    [
      "status-db",
      "Database",
      !health.db.reachable
        ? `unreachable: ${health.db.error}`
        : `${health.db.provider}, reachable (${health.db.latencyMs} ms)${health.db.writable ? "" : `, but not writable: ${health.db.error}`}`,
    ],
    [
      "status-model",
      "Model",
      health.model.active
        ? `${health.model.active}${health.model.loaded ? ", loaded" : health.model.error ? `, failed to load: ${health.model.error}` : ", not loaded"}`
        : "none active",
    ],
  ];
  return (
    <section className="rounded-lg border border-neutral-200 bg-white p-4 shadow-sm" aria-labelledby="status-heading">
      <h2 id="status-heading" className="mb-3 text-sm font-semibold uppercase tracking-wide text-neutral-500">
        System status{" "}
        <span className={health.status === "ok" ? "text-emerald-600" : "text-red-600"} data-testid="status-overall">
          {health.status}
        </span>
      </h2>
      <dl className="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[10rem_1fr]">
        {rows.map(([id, label, value]) => (
          <div key={id} className="contents">
            <dt className="font-medium text-neutral-600">{label}</dt>
            <dd className="break-words text-neutral-900" data-testid={id}>
              {value}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
