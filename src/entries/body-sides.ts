/**
 * Where an entry keeps its HTTP bodies, as HAR does: the request's `postData` and the
 * response's `content`, in that order. Whatever walks an entry's bodies (the split stored
 * form, deferred decoding, lazy texts) walks this list. A module of its own, with no
 * imports, so that the protocols can use it without a cycle through the entries' index.
 */
export const BODY_SIDES = [
  ['request', 'postData'],
  ['response', 'content'],
] as const;

export type BodyKey = (typeof BODY_SIDES)[number][1];
