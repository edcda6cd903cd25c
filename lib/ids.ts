// Record ids are cuids ([a-z0-9], ~25 characters). An id from a URL that cannot be one is answered "not found"
// without a query: the database would reject some of them (lone surrogates, NUL) instead of finding nothing.
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isRecordId(id: string): boolean {
  return ID.test(id);
}

/** An id safe to repeat in a message (what a user typed, cut short). */
export function shownId(id: string): string {
  return isRecordId(id) ? id : "given";
}
