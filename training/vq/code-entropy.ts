// How many bits per image a tokenizer's codes cost the transformer, estimated by two cheap models fitted on the
// train split's codes and scored on another split: a unigram (each code on its own) and a row bigram (each code
// given its left neighbour, the first of a row given a start symbol). log2 K × h × w is the ceiling both stay under;
// the further under it, the more of the code grid is predictable structure the transformer gets for free, and the
// less entropy was spent on nothing (e.g. a plain background coded differently in each corner).

/** Counts from the train split's code grids, [N, h, w] row-major. */
export class CodeGridModel {
  private readonly unigram: Float64Array;
  /** (K + 1) × K: row k < K is "left neighbour is k", row K is "start of a row". */
  private readonly bigram: Float64Array;
  private readonly contextTotals: Float64Array;
  private total = 0;

  constructor(
    readonly codebookSize: number,
    readonly side: number,
    /** Unigram add-α smoothing and the bigram's Dirichlet prior strength towards the unigram (β pseudo-counts). */
    readonly alpha = 0.5,
    readonly beta = 16,
  ) {
    this.unigram = new Float64Array(codebookSize);
    this.bigram = new Float64Array((codebookSize + 1) * codebookSize);
    this.contextTotals = new Float64Array(codebookSize + 1);
  }

  fit(codes: ArrayLike<number>): this {
    const { codebookSize: k, side } = this;
    if (codes.length % (side * side)) throw new Error(`code count ${codes.length} is not a multiple of ${side}×${side}`);
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      const context = i % side === 0 ? k : codes[i - 1];
      this.unigram[code]++;
      this.bigram[context * k + code]++;
      this.contextTotals[context]++;
      this.total++;
    }
    return this;
  }

  private pUnigram(code: number): number {
    return (this.unigram[code] + this.alpha) / (this.total + this.alpha * this.codebookSize);
  }

  /** Mean bits per image of `codes` ([M, h, w]) under the unigram and the row-bigram model. */
  bitsPerImage(codes: ArrayLike<number>): { unigram: number; rowBigram: number } {
    const { codebookSize: k, side } = this;
    const perImage = side * side;
    if (!codes.length || codes.length % perImage) throw new Error(`code count ${codes.length} is not a positive multiple of ${perImage}`);
    let uni = 0;
    let bi = 0;
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      const context = i % side === 0 ? k : codes[i - 1];
      const pu = this.pUnigram(code);
      uni -= Math.log2(pu);
      bi -= Math.log2((this.bigram[context * k + code] + this.beta * pu) / (this.contextTotals[context] + this.beta));
    }
    const images = codes.length / perImage;
    return { unigram: uni / images, rowBigram: bi / images };
  }
}
