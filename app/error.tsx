"use client";

export default function ErrorBoundary({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="space-y-3 rounded-md border border-red-300 bg-red-50 p-4 text-red-900" role="alert" data-testid="error">
      <h1 className="font-semibold">Something went wrong</h1>
      <p className="text-sm">{error.message || "An unexpected error occurred."}</p>
      {error.digest && <p className="font-mono text-xs">reference: {error.digest}</p>}
      <button type="button" onClick={reset} className="rounded bg-red-700 px-3 py-1 text-sm text-white hover:bg-red-800">
        Try again
      </button>
    </div>
  );
}
