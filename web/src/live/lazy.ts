// The live pages as lazy chunks: a resident's first screen does not load the player, and the
// area shells add them with one import and one route line each.
import { lazy } from "react";

export const LiveWatchRoute = lazy(() => import("./LiveWatchPage"));
export const LiveConsoleRoute = lazy(() => import("./LiveConsolePage"));
