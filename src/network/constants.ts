/** When a node connected to peers, none of them a member, says so (see `watchLoneliness`). */
export const LONELY_AFTER_MS = 15_000;
