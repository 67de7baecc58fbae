"""工会排队 union queue and 订单分红 order dividend: positions, forecasts and the ops settlement."""
