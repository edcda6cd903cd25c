import Link from "next/link";

export default function NotFound() {
  return (
    <div className="space-y-3" data-testid="not-found">
      <h1 className="text-2xl font-bold">Page not found</h1>
      <p className="text-neutral-700">There is nothing at this address.</p>
      <Link href="/" className="text-tile-700 underline">
        Back to Tessera
      </Link>
    </div>
  );
}
