// Vite imports a file as text with ?raw (test/client-types.test.ts reads client/types.ts so).
declare module '*?raw' {
  const text: string;
  export default text;
}
