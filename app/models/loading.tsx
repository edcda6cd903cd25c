import { LoadingNotice } from "@/components/loading";

export default LoadingNotice;
