// Random nonces for frames: 16 bytes from the CSPRNG, base64url without padding.

/** A fresh nonce: 22 base64url characters (128 bits). */
export function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}
