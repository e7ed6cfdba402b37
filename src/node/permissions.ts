/**
 * Whether this program already holds a permission. Optional features that need one (the host's
 * OpenSSL and libc through FFI, reading `/proc`) ask this first, so that they are used where
 * granted and skipped elsewhere, never prompted for.
 *
 * @module
 */

/**
 * Whether `permission` is granted now (false where it cannot be queried).
 *
 * @param permission What to ask about.
 * @returns True when granted; never prompts.
 */
export function permissionGranted(permission: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(permission).state === "granted";
  } catch {
    return false;
  }
}
