/** Entry: pick the transport (Electron preload or browser mode over HTTP) and render the shell. */
import { render } from 'preact'
import { createClient } from './api.js'
import { App } from './app.js'
import { ClientContext } from './hooks.js'

function NoToken() {
  return (
    <main class='gate'>
      <h1>Fieldsync</h1>
      <p>
        This page needs the access token that <code>fieldsync ui</code> prints with its URL.
      </p>
      <p>
        Open the full address it printed (it ends in <code>#token=…</code>), or start it again with <code>fieldsync ui</code>.
      </p>
    </main>
  )
}

const root = document.getElementById('app')
if (root !== null) {
  const client = createClient()
  render(
    client === null ? (
      <NoToken />
    ) : (
      <ClientContext.Provider value={client}>
        <App />
      </ClientContext.Provider>
    ),
    root,
  )
}
