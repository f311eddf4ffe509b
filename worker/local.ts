// Entry point of a local worker process; its code is in local-worker.ts for now (the next commit splits entry from class).
import "./local-worker.js";
