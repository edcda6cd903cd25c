/** @type {import('next').NextConfig} */
const nextConfig = {
  // The e2e tests build into their own folder so they never overwrite the build a running `npm start` serves.
  distDir: process.env.TESSERA_DIST_DIR || ".next",
  // No advertisement of the framework in every response.
  poweredByHeader: false,
  // Loaded from node_modules at run time instead of bundled: halves the server bundle, keeps tfjs-wasm's .wasm
  // files where lib/tensor/backend.ts looks for them, and lets the optional native/GPU backends be absent.
  serverExternalPackages: [
    "@tensorflow/tfjs",
    "@tensorflow/tfjs-backend-wasm",
    "@tensorflow/tfjs-backend-webgpu",
    "@tensorflow/tfjs-node",
    "@tensorflow/tfjs-node-gpu",
    "webgpu",
  ],
};

export default nextConfig;
