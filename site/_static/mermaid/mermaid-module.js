// sphinxcontrib-mermaid loads Mermaid with `import mermaid from ...` (an ES module).
// The site ships Mermaid's single-file build, mermaid.min.js, which runs first as a classic
// script and sets globalThis.mermaid; this module hands that object to the import.
// One committed file instead of the ~200 chunks of mermaid.esm.min.mjs, and no CDN.
export default globalThis.mermaid;
