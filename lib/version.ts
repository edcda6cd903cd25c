import pkg from "../package.json";

/** The app's version, as package.json says: shown in /api/health and the page footer. */
export const VERSION: string = pkg.version;
