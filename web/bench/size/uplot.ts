// What an app ships to draw one line chart with uPlot.
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

new uPlot({ width: 600, height: 300, series: [{}, { stroke: 'blue' }] }, [[1, 2], [3, 4]], document.body)
