// What the tab remembers between screens. The one shared mutable object of the UI: every
// module reads and writes it here rather than keeping copies that could disagree.
import { session } from "./session.js";

export const state = {
  session: session.load(),
  catalogue: null, // GET /v2/webhooks, cached per tab
  samples: new Map(),
  highlight: null, // id of the row to flash after a save
  signInNotice: null,
};
