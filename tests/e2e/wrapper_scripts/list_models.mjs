// listModels through amplifier-agent-ts against the real engine; prints the parsed listing.

import { listModels } from "../../../wrappers/typescript/src/index.js";
import { print, required } from "./common.mjs";

print(await listModels({ provider: required("WRAPPER_PROVIDER") }));
