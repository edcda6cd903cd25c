// Learning-rate schedule: linear warm-up, then cosine decay to a floor (Loshchilov & Hutter 2017). Progress is a
// fraction in [0, 1] so the same schedule serves a step budget and a wall-clock budget (--minutes).
export interface LrSchedule {
  peak: number;
  /** Warm-up length in steps. */
  warmupSteps: number;
  /** Final learning rate as a fraction of the peak. */
  floor: number;
}

export function learningRate(s: LrSchedule, step: number, progress: number): number {
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const p = Math.min(1, Math.max(0, progress));
  return s.peak * (s.floor + (1 - s.floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

/** Piecewise schedules for the dVAE (DALL·E: τ from 1 to 1/16, KL weight warmed up), by progress in [0, 1]. */
export function cosineAnneal(from: number, to: number, progress: number): number {
  const p = Math.min(1, Math.max(0, progress));
  return to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * p));
}
