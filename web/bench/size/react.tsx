// The React baseline that Recharts needs (subtracted from the Recharts size).
import { createRoot } from 'react-dom/client'

createRoot(document.body).render(<div>baseline</div>)
