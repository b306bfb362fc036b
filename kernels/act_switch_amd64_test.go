package kernels

func setAct(v bool) { useAVX2Act = v }
