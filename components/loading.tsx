/** The fallback every route's loading.tsx shows while its server component renders. */
export function LoadingNotice() {
  return (
    <p className="animate-pulse text-neutral-500" data-testid="loading" role="status">
      Loading…
    </p>
  );
}
