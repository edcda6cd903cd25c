// Named queries on admin sessions. Rows are keyed by the SHA-256 of the cookie's secret (lib/admin.ts hashes it).
import type { Db } from "./client";

export async function createAdminSession(db: Db, idHash: string, expiresAt: Date): Promise<void> {
  await db.adminSession.create({ data: { id: idHash, expiresAt } });
}

/** True while the session exists and has not expired. */
export async function adminSessionIsLive(db: Db, idHash: string, now = new Date()): Promise<boolean> {
  return (await db.adminSession.count({ where: { id: idHash, expiresAt: { gt: now } } })) === 1;
}

export async function deleteAdminSession(db: Db, idHash: string): Promise<void> {
  await db.adminSession.deleteMany({ where: { id: idHash } });
}

export async function deleteExpiredAdminSessions(db: Db, now = new Date()): Promise<number> {
  return (await db.adminSession.deleteMany({ where: { expiresAt: { lte: now } } })).count;
}
