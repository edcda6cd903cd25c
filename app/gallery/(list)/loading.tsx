export default function Loading() {
  return (
    <p className="animate-pulse text-neutral-500" data-testid="loading" role="status">
      Loading…
    </p>
  );
}
