/** Where commands write: stdout carries data, stderr everything else. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const encoder = new TextEncoder();

/** The process's own streams. */
export const processIo: CliIo = {
  stdout: (text) => writeAllSync(Deno.stdout, encoder.encode(text)),
  stderr: (text) => writeAllSync(Deno.stderr, encoder.encode(text)),
};

function writeAllSync(stream: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length;) offset += stream.writeSync(bytes.subarray(offset));
}
