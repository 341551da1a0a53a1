import { render } from 'preact'

function App() {
  return <main><h1>Fieldsync</h1></main>
}

const root = document.getElementById('app')
if (root) render(<App />, root)
