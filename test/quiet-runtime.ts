// workerd reports every connection a test drops or refuses on purpose (hooks that reset, refuse,
// speak garbage TLS) as an "uncaught exception" with a stack of bare addresses, even when Torque
// handled the failure. The vitest plugin prints those reports straight to the terminal, with no
// option to filter them, so a passing run looked broken. Only these runtime network reports are
// dropped; anything else the runtime or a test prints still shows.
const RUNTIME_NETWORK_NOISE = [
  /^uncaught exception; (source = Uncaught \(in promise\); stack = Error: |exception = \S+: (disconnected|failed): jsg\.Error: )(Network connection lost\.|internal error; reference = \w+)$/,
  /^(exception|e) = rust\/worker\/ffi\.rs:\d+: (disconnected|failed): /,
  /^stack:( \S*workerd@[0-9a-f]+)+(; sentryErrorContext = \w+; wdErrId = \w+)?$/,
];

const isNoise = (line: string) => RUNTIME_NETWORK_NOISE.some((re) => re.test(line));

/** Drops the runtime's network reports from a stream's writes; returns a function that undoes it. */
export function quietRuntime(stream: NodeJS.WriteStream): () => void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return write(chunk, ...rest);
    const kept = chunk.split('\n').filter((line) => !isNoise(line)).join('\n');
    if (kept === chunk) return write(chunk, ...rest);
    if (kept.trim() === '') {
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }
    return write(kept, ...rest);
  }) as typeof stream.write;
  return () => void (stream.write = write as typeof stream.write);
}
