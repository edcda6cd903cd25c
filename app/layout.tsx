import type { Metadata, Viewport } from "next";
import Link from "next/link";
import { VERSION } from "@/lib/version";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Tessera", template: "%s · Tessera" },
  icons: { icon: "/favicon.svg" },
  description: "A small, honest, end-to-end DALL·E: type a prompt, watch a transformer write image tokens, see a picture.",
};

const NAV: [string, string][] = [
  ["/", "Create"],
  ["/gallery", "Gallery"],
  ["/models", "Models"],
  ["/lab", "Lab"],
  ["/about", "About"],
];

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen flex flex-col">
        <header className="border-b border-neutral-200 bg-white">
          <nav className="mx-auto flex max-w-5xl flex-wrap items-center gap-x-5 gap-y-2 px-4 py-3" aria-label="Main">
            <Link href="/" className="text-lg font-semibold tracking-tight text-tile-700" data-testid="nav-home">
              Tessera
            </Link>
            {NAV.map(([href, label]) => (
              <Link
                key={href}
                href={href}
                className="text-sm text-neutral-700 hover:text-tile-700"
                data-testid={`nav-${label.toLowerCase()}`}
              >
                {label}
              </Link>
            ))}
            <Link href="/admin" className="ml-auto text-sm text-neutral-500 hover:text-tile-700" data-testid="nav-admin">
              Admin
            </Link>
          </nav>
        </header>
        <main className="mx-auto w-full max-w-5xl flex-1 px-4 py-8">{children}</main>
        <footer className="border-t border-neutral-200 py-4 text-center text-xs text-neutral-500">
          Tessera {VERSION} · every model here was trained by this project
        </footer>
      </body>
    </html>
  );
}
