// A grid of generated pictures (partial or final), upscaled without smoothing; final ones with a download link.
import { PixelImage } from "./pixel-image";

export function ImageGrid({ urls, testId, downloads = false }: { urls: string[]; testId: string; downloads?: boolean }) {
  return (
    <div className="grid grid-cols-2 gap-3 sm:grid-cols-4">
      {urls.map((url, i) => (
        <figure key={i} className="space-y-1">
          <PixelImage src={url} alt={`generated image ${i + 1}`} testId={testId} />
          {downloads && (
            <a href={url} download={`tessera-${i + 1}.png`} className="text-xs text-tile-700 underline">
              Download PNG
            </a>
          )}
        </figure>
      ))}
    </div>
  );
}
