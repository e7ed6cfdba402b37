/**
 * Between two checks of the heap trimmer (`heap_trim.ts`): a check reads one number.
 */
export const HEAP_TRIM_CHECK_MS = 2_000;
/**
 * Heaps in use below this are never collected by the trimmer, in bytes.
 */
export const HEAP_TRIM_MIN_BYTES = 24 * 1024 * 1024;
/**
 * The trimmer collects when the heap in use reached this many times what the last
 * collection left.
 */
export const HEAP_TRIM_GROWTH = 1.3;
