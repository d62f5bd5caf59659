// What an app ships to draw one line chart with ECharts (tree-shaken: line chart, grid, canvas).
import { LineChart } from 'echarts/charts'
import { GridComponent } from 'echarts/components'
import * as echarts from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([LineChart, GridComponent, CanvasRenderer])
echarts.init(document.body).setOption({ xAxis: { type: 'value' }, yAxis: {}, series: [{ type: 'line', data: [[1, 3], [2, 4]] }] })
