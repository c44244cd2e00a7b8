// Types for src/operations.graphql, generated from the server's checked-in schema.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/operations.graphql"],
  generates: {
    "src/generated/": {
      preset: "client",
      config: {
        // Documents as typed strings: the page ships no GraphQL parser.
        documentMode: "string",
        enumsAsTypes: true,
        scalars: { DateTime: "string", JSON: "unknown" },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};
export default config;
