// Vite asset imports: `import url from "x?url"` is the URL of the built file.
declare module "*?url" {
  const url: string;
  export default url;
}
