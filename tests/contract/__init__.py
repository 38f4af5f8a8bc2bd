"""Contract suites (issue L): outside tools — schemathesis and openapi-core — judge the sandbox and the client
against the vendor's OpenAPI spec (a package, so module names do not clash with other test folders)."""
