// Part of the build (npm ci runs it through `prepare`): the console's stylesheet and script go next
// to the compiled router, where it reads them (src/ui/router.ts), so dist/ runs on its own.
import { cpSync, mkdirSync } from "node:fs";

const from = new URL("../src/ui/assets/", import.meta.url);
const to = new URL("../dist/ui/assets/", import.meta.url);
mkdirSync(to, { recursive: true });
cpSync(from, to, { recursive: true });
