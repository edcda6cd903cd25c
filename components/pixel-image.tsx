// A generated picture as the app shows it everywhere: its 32×32 pixels upscaled without smoothing
// (`image-rendering: pixelated`), on white, with a thin border. `small` is the 64-px thumbnail size.
export function PixelImage({
  src,
  alt,
  small = false,
  lazy = false,
  dim = false,
  testId,
}: {
  src: string;
  alt: string;
  small?: boolean;
  lazy?: boolean;
  /** Shown faded (a rejected candidate). */
  dim?: boolean;
  testId?: string;
}) {
  const size = small ? 64 : 128;
  return (
    <img
      src={src}
      alt={alt}
      width={size}
      height={size}
      loading={lazy ? "lazy" : undefined}
      className={`w-full rounded border border-neutral-200 bg-white ${dim ? "opacity-80 " : ""}[image-rendering:pixelated]`}
      data-testid={testId}
    />
  );
}
