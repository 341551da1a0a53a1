/** Browser mode: the renderer and the API over HTTP on 127.0.0.1, guarded by a per-run token. */
export { WebServer, type WebServerOptions } from './server.js'
export { Gate, CSP, newToken, statusFor } from './security.js'
export { openBrowser } from './open.js'
