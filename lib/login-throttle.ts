// Throttles every way of presenting the admin token, per client: the /admin login and `Authorization: Bearer`
// share one count, so neither is a side door around the other. A few wrong tokens are allowed in a window, then the
// client is locked out (the right token too), and every further lock-out in a day doubles (30 s, 1 min, 2 min, … up
// to an hour), so guessing the token is hopeless while a mistyped token costs a moment. In memory: one server
// process holds the state.
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";

export interface ThrottleOptions {
  /** Wrong tokens per window: the last of them starts the lock-out. */
  attempts: number;
  windowS: number;
  /** The first lock-out; each further one in `memoryS` doubles it, up to `maxBlockS`. */
  blockS: number;
  maxBlockS: number;
  memoryS: number;
}

/** The answer to one presented token. */
export type AttemptResult = { ok: true } | { ok: false; reason: "token" } | { ok: false; reason: "throttled"; retryAfterS: number };

export const DEFAULT_THROTTLE: ThrottleOptions = { attempts: 5, windowS: 15 * 60, blockS: 30, maxBlockS: 60 * 60, memoryS: 24 * 60 * 60 };

export class LoginThrottle {
  private readonly failures: RateLimiterMemory;
  private readonly lockouts: RateLimiterMemory;
  private readonly blocked: RateLimiterMemory;
  /** The tail of each client's attempts in flight (see `attempt`). */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly o: ThrottleOptions = DEFAULT_THROTTLE) {
    this.failures = new RateLimiterMemory({ keyPrefix: "login-fail", points: o.attempts, duration: o.windowS });
    this.lockouts = new RateLimiterMemory({ keyPrefix: "login-lockouts", points: 1_000_000, duration: o.memoryS });
    this.blocked = new RateLimiterMemory({ keyPrefix: "login-blocked", points: 1, duration: o.maxBlockS });
  }

  /** Seconds the client must still wait (0: it may try). */
  async blockedFor(client: string): Promise<number> {
    const res = await this.blocked.get(client);
    return res && res.consumedPoints > 0 && res.msBeforeNext > 0 ? Math.ceil(res.msBeforeNext / 1000) : 0;
  }

  /** Records a wrong token; returns the lock-out in seconds when this one used up the allowance, else 0. */
  async failed(client: string): Promise<number> {
    try {
      if ((await this.failures.consume(client)).remainingPoints > 0) return 0;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
    }
    const previous = (await this.lockouts.get(client))?.consumedPoints ?? 0;
    await this.lockouts.consume(client);
    const seconds = Math.min(this.o.maxBlockS, this.o.blockS * 2 ** previous);
    await this.blocked.block(client, seconds);
    // A fresh allowance once the lock-out ends; the lock-out count keeps growing.
    await this.failures.delete(client);
    return seconds;
  }

  async succeeded(client: string): Promise<void> {
    await Promise.all([this.failures.delete(client), this.lockouts.delete(client), this.blocked.delete(client)]);
  }

  /**
   * Judges one presented token: refused while the client is locked out (even the right one), counted when wrong,
   * clearing the client's record when right. One client's attempts are judged one after another: checked
   * concurrently, the guesses of a burst could read "not locked out" before the failures ahead of them were counted,
   * and more than the allowance would be tried.
   */
  attempt(client: string, isRight: () => boolean): Promise<AttemptResult> {
    const judged = (this.inFlight.get(client) ?? Promise.resolve()).then(() => this.judge(client, isRight));
    const tail = judged.catch(() => undefined);
    this.inFlight.set(client, tail);
    void tail.then(() => {
      if (this.inFlight.get(client) === tail) this.inFlight.delete(client);
    });
    return judged;
  }

  private async judge(client: string, isRight: () => boolean): Promise<AttemptResult> {
    const wait = await this.blockedFor(client);
    if (wait > 0) return { ok: false, reason: "throttled", retryAfterS: wait };
    if (!isRight()) {
      const blocked = await this.failed(client);
      return blocked > 0 ? { ok: false, reason: "throttled", retryAfterS: blocked } : { ok: false, reason: "token" };
    }
    await this.succeeded(client);
    return { ok: true };
  }
}

const state = globalThis as unknown as { tesseraLoginThrottle?: LoginThrottle };

/** The process's throttle (on globalThis: Next bundles actions and routes separately). */
export function loginThrottle(): LoginThrottle {
  return (state.tesseraLoginThrottle ??= new LoginThrottle());
}
