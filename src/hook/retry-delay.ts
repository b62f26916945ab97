// QStash's Upstash-Retry-Delay: an arithmetic expression in milliseconds over `retried` (retries so
// far, 0 before the first retry), e.g. "1000 * (1 + retried)" or "max(10, pow(2, retried))".
// Parsed by hand into a closure (no eval: a client's text is never run as code); the grammar is
// numbers, `retried`, + - * / ( ), unary minus and the functions below.

const FUNCTIONS: Record<string, [number, (...a: number[]) => number]> = {
  pow: [2, Math.pow], sqrt: [1, Math.sqrt], abs: [1, Math.abs], exp: [1, Math.exp], floor: [1, Math.floor],
  ceil: [1, Math.ceil], round: [1, Math.round], min: [2, Math.min], max: [2, Math.max],
};

type Expr = (retried: number) => number;
const MAX_LENGTH = 256;

/** Compiles an expression, or throws an Error saying what is wrong with it. */
export function compileRetryDelay(text: string): Expr {
  if (text.length > MAX_LENGTH) throw new Error(`must be at most ${MAX_LENGTH} characters`);
  const tokens = text.match(/\d+(?:\.\d+)?|[A-Za-z_]+|[-+*/(),]|\S/g) ?? [];
  let at = 0;
  const peek = () => tokens[at];
  const take = (want?: string) => {
    const t = tokens[at];
    if (t === undefined || (want !== undefined && t !== want)) throw new Error(`expected ${want ? `"${want}"` : 'more'} at "${t ?? 'the end'}"`);
    at++;
    return t;
  };
  const sum = (): Expr => {
    let left = product();
    while (peek() === '+' || peek() === '-') {
      const op = take();
      const [l, r] = [left, product()];
      left = op === '+' ? (n) => l(n) + r(n) : (n) => l(n) - r(n);
    }
    return left;
  };
  const product = (): Expr => {
    let left = unary();
    while (peek() === '*' || peek() === '/') {
      const op = take();
      const [l, r] = [left, unary()];
      left = op === '*' ? (n) => l(n) * r(n) : (n) => l(n) / r(n);
    }
    return left;
  };
  const unary = (): Expr => {
    if (peek() === '-') {
      take();
      const e = unary();
      return (n) => -e(n);
    }
    return atom();
  };
  const atom = (): Expr => {
    const t = take();
    if (/^\d/.test(t)) return () => Number(t);
    if (t === 'retried') return (n) => n;
    if (t === '(') {
      const e = sum();
      take(')');
      return e;
    }
    const fn = FUNCTIONS[t];
    if (!fn) throw new Error(`unknown name "${t}" (use retried, numbers and ${Object.keys(FUNCTIONS).join(', ')})`);
    take('(');
    const args = [sum()];
    while (peek() === ',') (take(), args.push(sum()));
    take(')');
    if (args.length !== fn[0]) throw new Error(`${t} takes ${fn[0]} argument(s), got ${args.length}`);
    return (n) => fn[1](...args.map((a) => a(n)));
  };
  const expr = sum();
  if (at !== tokens.length) throw new Error(`unexpected "${tokens[at]}"`);
  return expr;
}

/** The delay in seconds before a retry, or null when the expression gives no usable number. */
export function evalRetryDelay(text: string, retried: number, maxSeconds: number): number | null {
  try {
    const ms = compileRetryDelay(text)(retried);
    return Number.isFinite(ms) && ms >= 0 ? Math.min(Math.ceil(ms / 1000), maxSeconds) : null;
  } catch {
    return null;
  }
}
